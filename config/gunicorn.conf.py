"""Gunicorn configuration for production: `gunicorn -c config/gunicorn.conf.py 'mdm:create_app()'`.

Web workers never run the job scheduler; run one `mdm scheduler` process beside them.
"""

import multiprocessing
import os
import sys

from mdm.settings import ACCESS_LOGGER, HTTP_SERVER_LIMITS

bind = os.environ.get("MDM_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("MDM_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("MDM_THREADS", 4))
# Load the app once in the master so a configuration error stops start-up with one clear message.
preload_app = True
# Long enough for a school admin's bulk upload (a CSV of a thousand students, a timetable zip).
timeout = 120
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (a guard against slow leaks), but rarely: a fresh worker loads the
# app and the school plans again, which shows as slow requests in the morning peak.
max_requests = 200_000
max_requests_jitter = 20_000
accesslog = "-"
errorlog = "-"
# The access log without the secrets of feed, enrollment and panel links.
logger_class = ACCESS_LOGGER
forwarded_allow_ips = os.environ.get("MDM_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Gunicorn answers these itself, with a short HTML page (not problem+json), before the app sees
# the request: a request line (method, path and query) over 8190 bytes is a 414, a header over
# 8190 bytes or more than 100 headers a 431. 8190 is the largest bounded value gunicorn takes; the
# longest query of the service, a SCEP GET PKIOperation, is about 5.2 KB with a 4096-bit key.
limit_request_line = HTTP_SERVER_LIMITS["limit_request_line"]
limit_request_field_size = HTTP_SERVER_LIMITS["limit_request_field_size"]
limit_request_fields = HTTP_SERVER_LIMITS["limit_request_fields"]
# No control socket: one path in the home directory would be shared by every instance on the
# machine; stop and reload with signals (systemctl reload sends HUP).
control_socket_disable = True


def on_starting(server):  # gunicorn calls it once the app is loaded
    """Stop before serving when the settings do not fit several workers (the app is loaded)."""
    from mdm.settings import ConfigError, check_workers

    try:
        check_workers(server.app.wsgi().config, server.cfg.workers)
    except ConfigError as exc:
        server.log.error("Configuration error: %s", exc)
        sys.exit(2)
