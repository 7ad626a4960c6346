"""Inference economics: plan cost lines (``plan_cost``, ``resources``), the throughput model
(``throughput``), the stage advisor (``advisor``, ``plot``) and the readers of the price tables
in ``components/data`` (``tables``)."""
