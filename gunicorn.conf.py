"""gunicorn settings of the platform: what `scripts/serve` runs with, and what gunicorn loads by
itself when started from the project root (it reads ./gunicorn.conf.py).

The access log goes to stdout through MaskedLogger: no ID number, credit code, name or share code
of a request target reaches it (licence_svc/web/accesslog.py).
"""

logger_class = "licence_svc.web.accesslog.MaskedLogger"
accesslog = "-"
errorlog = "-"
