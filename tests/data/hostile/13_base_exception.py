# Raises a BaseException subclass that `except Exception` handlers (and harnesses that
# only count AssertionError as failure) let through.
class NotAnError(BaseException):
    pass


def add(a, b):
    raise NotAnError("all good")
# ---- test ----
assert add(1, 2) == 3
