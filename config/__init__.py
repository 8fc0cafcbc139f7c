"""Configuration: documented defaults (`defaults.py`), an example production file, gunicorn."""
