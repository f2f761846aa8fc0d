"""Dispatch (派单): the dispatch catalog (派单目录) saying which unit acts on which category where,
and the classifier that suggests a message's category or unit from its text."""
