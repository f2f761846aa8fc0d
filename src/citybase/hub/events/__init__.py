"""Events (事件): the one classification every matter is filed under — the event taxonomy of up
to three levels (大类/小类/细类)."""
