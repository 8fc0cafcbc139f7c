"""The platform every package builds on: errors, the audit log, jobs, actors and their scope,
column types and encryption at rest, rate limits, HTTP helpers and the worker cache. It imports
no other part of mdm."""
