"""One data, one source (一数一源): who is the authoritative source of each kind of data, and which
resources provide it from elsewhere."""
