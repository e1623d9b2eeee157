"""The registry: deployed applications, node sessions, the locator and the admin service."""
