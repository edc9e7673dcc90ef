"""sentilens on Ray: batch prediction over many images and the block experiments as tasks.

``session``: a local Ray on loopback, or a cluster's address; ``listing``: the images a job
names (files, folders, CSV or Parquet listings); ``shards``: the resumable output folder;
``batch``: decoding tasks and classifier actors writing the shards; ``sweep``: rows x folds of
an experiment as Ray tasks.  Ray is an optional dependency (``pip install 'sentilens[cluster]'``),
imported only when a job runs.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.app.distributed.batch import BatchRun, BatchSettings, run_batch
    from sentilens.app.distributed.session import ClusterError
    from sentilens.app.distributed.sweep import ray_runner

__all__ = ["BatchRun", "BatchSettings", "ClusterError", "ray_runner", "run_batch"]

lazy_face(__name__)
