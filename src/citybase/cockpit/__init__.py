"""Plan supervision (规划督导): the city's digital plans as data — their indicators with baselines
and yearly targets, their tasks with the units responsible — and the monthly progress against
them that units report and the bureau approves."""
