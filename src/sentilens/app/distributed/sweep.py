"""The block experiments on Ray: every (row, fold) of a sweep is one Ray task.

The sweep (dataset, folds, config and the frozen features the rows read) goes into Ray's object
store once; each task trains and scores one row on one fold with
:meth:`~sentilens.evaluation.experiments.Sweep.run`, seeded by (seed, fold number) as in a
single-process run, so the scores are the same whichever worker runs which job.
"""

from __future__ import annotations

from sentilens.app.distributed.session import import_ray, ray_session
from sentilens.evaluation import FoldJob, FoldResult, JobRunner, Sweep
from sentilens.utils import Say, quiet


def run_job(sweep: Sweep, job: FoldJob) -> FoldResult:
    """One Ray task: train and score ``job``, torch on the one CPU Ray reserved for the task."""
    import torch

    torch.set_num_threads(1)
    return sweep.run(job)


def ray_runner(address: str | None = None, say: Say = quiet) -> JobRunner:
    """A :data:`~sentilens.evaluation.experiments.JobRunner` that runs each job as a Ray task, on
    the cluster at ``address`` or a local Ray on loopback (see
    :func:`~sentilens.app.distributed.session.ray_session`), joined or started only once the
    sweep is planned: the frozen pass over the images runs before Ray holds any CPU."""

    def run_on_ray(sweep: Sweep) -> list[FoldResult]:
        jobs = sweep.jobs()
        with ray_session(address, say):
            ray = import_ray()
            shared = ray.put(sweep)
            task = ray.remote(num_cpus=1, max_retries=3)(run_job)
            say(f"{len(jobs)} jobs ({len(sweep.rows)} rows x {len(sweep.folds)} folds) sent to Ray")
            results: list[FoldResult] = ray.get([task.remote(shared, job) for job in jobs])
        return results

    return run_on_ray
