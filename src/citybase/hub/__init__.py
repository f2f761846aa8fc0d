"""Hub layer (中枢层, the city brain): events, cases, dispatch, supervision. Not built yet."""
