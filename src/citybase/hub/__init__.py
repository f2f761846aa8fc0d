"""Hub layer (中枢层, the city brain): events, cases, dispatch, supervision. Built so far: the
dispatch classifier (``hub.dispatch``); the event centre, cases and supervision are not."""
