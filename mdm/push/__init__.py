"""Push: wake-ups of devices through APNs, a school's signed webhook, or the log; retried with
back-off. A push only wakes a device: what it is to do waits in its queue for its check-in."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The push settings API, the waker devices call, and the job that sends wake-ups."""
    from mdm.devices import hooks
    from mdm.extensions import api as rest_api
    from mdm.platform.jobs import JobSpec, register_job
    from mdm.push import api, jobs, service

    rest_api.register_blueprint(api.blp)
    hooks.register_waker(app, service.queue_wakeups)
    register_job(
        app,
        JobSpec(
            id="push.send",
            func=jobs.send_wakeups,
            seconds=int(app.config["PUSH_SEND_INTERVAL_SECONDS"]),
        ),
    )
