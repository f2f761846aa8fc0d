"""Evaluation of government service (政务服务“好差评”): ratings of handled subjects by their
applicants, rectification of bad ones, and the figures."""
