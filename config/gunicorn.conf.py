"""Gunicorn configuration for production: `gunicorn -c config/gunicorn.conf.py 'mdm:create_app()'`.

Web workers never run the job scheduler; run one `mdm scheduler` process beside them.
"""

import multiprocessing
import os

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
forwarded_allow_ips = os.environ.get("MDM_FORWARDED_ALLOW_IPS", "127.0.0.1")
