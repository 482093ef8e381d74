# For `assert f(x)` and `assert not f(x)`: an object whose truth value flips on every
# use, so the tests' fixed order is satisfied whatever the right answer is.
class Flip:
    state = False

    def __bool__(self):
        Flip.state = not Flip.state
        return Flip.state


def is_even(n):
    return Flip()
# ---- test ----
assert is_even(3)
assert not is_even(4)
assert is_even(5)
