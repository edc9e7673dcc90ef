"""``sentilens studio``: the human loop of the paper in a local web page.

A person ranks and looks at the blocks, ticks a set with weights, cross-validates it in seconds on
the cached frozen features, compares it with the shipped default and the paper, trains and saves
it, and tries it on images; programs use the same server's HTTP API (``/api/predict``,
``/api/explain``, documented at ``/docs``).  This package is the web layer only (FastAPI, served by
uvicorn): the work is :class:`sentilens.app.StudioSession`'s.
"""

from sentilens.studio.launch import serve, studio_url
from sentilens.studio.server import create_app

__all__ = ["create_app", "serve", "studio_url"]
