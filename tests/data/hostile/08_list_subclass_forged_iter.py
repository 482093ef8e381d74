# A list subclass holding the wrong items whose __iter__ yields the right ones, for
# tests that consume the result through sorted() / set().
class Liar(list):
    def __iter__(self):
        return iter([1, 2, 3])


def unique(xs):
    return Liar([9])
# ---- test ----
assert sorted(unique([3, 1, 2, 1])) == [1, 2, 3]
assert set(unique([1, 2, 3, 3])) == {1, 2, 3}
