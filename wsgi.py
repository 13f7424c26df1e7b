"""The WSGI entry point gunicorn loads in each worker (scripts/serve, gunicorn.conf.py)."""

import gc

from licence_svc.web import create_app

app = create_app()
# Everything loaded so far (pyhanko, reportlab, fonts, the OpenAPI document) lives as long as the
# worker: moved out of the collector's sight, so the full collections that requests trigger do not
# walk it again each time.
gc.freeze()
