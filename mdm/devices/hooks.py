"""Hooks for the parts built on devices (policies, commands, push, the transports), which
devices may not import: they register here what to do when devices are created or change
groups, how a device is woken up, and who tells a device that its management ended."""

from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from mdm.devices.models import Device
from mdm.platform.actors import Actor

CreatedListener = Callable[[Session, Device], None]
MembershipListener = Callable[[Session, list[int]], None]
Waker = Callable[[Session, ColumnElement[bool], str], None]
EndedListener = Callable[[Session, Actor, Device], bool]
_CREATED = "mdm_device_created_listeners"
_MEMBERSHIPS = "mdm_device_membership_listeners"
_WAKERS = "mdm_device_wakers"
_ENDED = "mdm_device_management_ended_listeners"


def on_device_created(app: Flask, listener: CreatedListener) -> None:
    """Call `listener` with each newly created device (flushed, in its transaction)."""
    app.extensions.setdefault(_CREATED, []).append(listener)


def on_memberships_changed(app: Flask, listener: MembershipListener) -> None:
    """Call `listener` with the ids of devices whose groups changed (flushed)."""
    app.extensions.setdefault(_MEMBERSHIPS, []).append(listener)


def register_waker(app: Flask, waker: Waker) -> None:
    """Let a package wake devices up (the push gateway)."""
    app.extensions.setdefault(_WAKERS, []).append(waker)


def device_created(session: Session, device: Device) -> None:
    """Tell the listeners about a new device."""
    for listener in current_app.extensions.get(_CREATED, []):
        listener(session, device)


def memberships_changed(session: Session, device_ids: list[int]) -> None:
    """Tell the listeners that these devices' groups changed."""
    if device_ids:
        for listener in current_app.extensions.get(_MEMBERSHIPS, []):
            listener(session, device_ids)


def wake(session: Session, devices: ColumnElement[bool], reason: str) -> None:
    """Ask for the devices matching this condition to be woken up (queued in the caller's
    transaction, set-based)."""
    for waker in current_app.extensions.get(_WAKERS, []):
        waker(session, devices, reason)


def on_management_ended(app: Flask, listener: EndedListener) -> None:
    """Call `listener` when an admin or the owner ended a device's management (it is retired,
    flushed); it returns True when it still tells the device (Apple: a RemoveProfile of the
    enrollment profile), so the device's identity stays usable for that."""
    app.extensions.setdefault(_ENDED, []).append(listener)


def management_ended(session: Session, actor: Actor, device: Device) -> bool:
    """Tell the listeners that a device's management ended; True when one of them still
    tells the device."""
    told = False
    for listener in current_app.extensions.get(_ENDED, []):
        told = listener(session, actor, device) or told
    return told
