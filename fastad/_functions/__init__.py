"""Tensor ops written in Python, one file per concern, each op a row of
fastad.opdefs.PY_OPS (which makes it fastad.<name> and Tensor.<name>).

They compose other fastad ops, or record with fastad._tensor.make_op and a
derivative written in fastad ops, so they can be differentiated again."""
