"""Devices (设备): their types — what each measures, in which unit, within which range — and the
devices themselves: owner unit, place, protocol, credentials, and whether they are online."""
