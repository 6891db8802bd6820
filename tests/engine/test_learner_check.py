"""check_engine: correct learner Values pass, each classic bug fails with a message naming it.

The learner classes here are written the way the lecture (and the notebook "Build your
own Value") teaches: micrograd's closures, or children with their local gradients. Each
bug is one change of a correct class.
"""

from __future__ import annotations

import math
import re

import pytest

import chaingrad
from chaingrad.engine.learner_check import DEEP_CHAIN, EngineCheckError, check_engine

# --- a correct Value with closures (micrograd's way, with an iterative sort) -------------


def iterative_toposort(root, children=lambda node: node._prev):
    """Every node after its children, with a list as the stack: no recursion."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))
    return order


class ClosureValue:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    @staticmethod
    def wrap(other):
        return other if isinstance(other, ClosureValue) else ClosureValue(other)

    def __add__(self, other):
        other = self.wrap(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self.wrap(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        out = type(self)(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def backward(self):
        self.grad = 1.0
        for node in reversed(iterative_toposort(self)):
            node._backward()


# --- a correct Value with local gradients (chaingrad's way) -------------------------------


class LocalValue:
    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0.0
        self.children = children
        self.local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, LocalValue) else type(self)(other)
        return type(self)(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, LocalValue) else type(self)(other)
        return type(self)(self.data * other.data, (self, other), (other.data, self.data))

    __radd__ = __add__
    __rmul__ = __mul__

    def tanh(self):
        t = math.tanh(self.data)
        return type(self)(t, (self,), (1 - t * t,))

    def exp(self):
        e = math.exp(self.data)
        return type(self)(e, (self,), (e,))

    def backward(self):
        self.grad = 1.0
        for node in reversed(iterative_toposort(self, lambda node: node.children)):
            for child, local in zip(node.children, node.local_grads):
                child.grad += local * node.grad


def test_a_correct_closure_value_passes():
    assert check_engine(ClosureValue) is True


def test_a_correct_local_gradients_value_passes():
    assert check_engine(LocalValue) is True


def test_it_is_exported_and_checks_chaingrads_own_value():
    assert chaingrad.check_engine is check_engine
    assert check_engine(chaingrad.Value) is True


def test_only_the_operations_the_class_defines_are_used():
    class AddAndMultiply(LocalValue):
        tanh = None
        exp = None

    assert check_engine(AddAndMultiply) is True


# --- the classic bugs ----------------------------------------------------------------------


def failure(cls) -> str:
    with pytest.raises(EngineCheckError) as info:
        check_engine(cls)
    return str(info.value)


class AssignsGradients(ClosureValue):
    """backward with = instead of +=: the lecture's first version."""

    def __add__(self, other):
        other = self.wrap(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad
            other.grad = out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self.wrap(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad

        out._backward = _backward
        return out


def test_equals_instead_of_plus_equals_is_named():
    message = failure(AssignsGradients)
    assert message.startswith(
        "your gradient of a in a*b + a is 3.0; the chain rule gives 4.0 because a is used twice"
    )
    assert "instead of adding them (child.grad += ...)" in message


class WalksForward(ClosureValue):
    def backward(self):
        self.grad = 1.0
        for node in iterative_toposort(self):  # BUG: not reversed
            node._backward()


def test_a_walk_in_the_wrong_order_is_named():
    message = failure(WalksForward)
    assert message.startswith("your gradient of a in a*b + c is 0.0; the chain rule gives -3.0")
    assert "a walk in the wrong order" in message
    assert "reversed" in message


class SortsRecursively(ClosureValue):
    def backward(self):
        topo, visited = [], set()

        def build_topo(v):  # the lecture's recursive sort
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def test_a_recursive_sort_fails_on_a_deep_chain_and_says_so():
    message = failure(SortsRecursively)
    assert f"chain of {DEEP_CHAIN:,} additions" in message
    assert "RecursionError" in message and "stack instead of recursion" in message


def test_the_recursive_sort_is_otherwise_right():
    # Everything before the deep chain passed: the bug is only the depth.
    class Shallow(SortsRecursively):
        pass

    import chaingrad.engine.learner_check as learner_check

    saved = learner_check.DEEP_CHAIN
    learner_check.DEEP_CHAIN = 100
    try:
        assert check_engine(Shallow) is True
    finally:
        learner_check.DEEP_CHAIN = saved


def test_a_missing_reflected_operator_is_named():
    class NoRmul:
        __init__ = LocalValue.__init__
        __add__ = LocalValue.__add__
        __radd__ = LocalValue.__radd__
        backward = LocalValue.backward

        def __mul__(self, other):
            other = other if isinstance(other, NoRmul) else NoRmul(other)
            return NoRmul(self.data * other.data, (self, other), (other.data, self.data))

    # LocalValue's methods build LocalValues; give NoRmul its own add too
    def add(self, other):
        other = other if isinstance(other, NoRmul) else NoRmul(other)
        return NoRmul(self.data + other.data, (self, other), (1.0, 1.0))

    NoRmul.__add__ = NoRmul.__radd__ = add
    message = failure(NoRmul)
    assert message.startswith("2 * a fails: unsupported operand type(s) for *: 'int' and 'NoRmul'")
    assert "def __rmul__(self, other): return self * other" in message


def test_numbers_not_wrapped_are_named():
    class Unwrapped(LocalValue):
        def __add__(self, other):
            return Unwrapped(self.data + other.data, (self, other), (1.0, 1.0))

    message = failure(Unwrapped)
    assert message.startswith("a + 1 fails: AttributeError: 'int' object has no attribute 'data'")
    assert "isinstance(other, Unwrapped) else Unwrapped(other)" in message


def test_children_in_a_set_are_named():
    class SetOfChildren(LocalValue):
        def backward(self):
            self.grad = 1.0
            order = iterative_toposort(self, lambda node: node.children)
            for node in reversed(order):
                merged = dict(zip(node.children, node.local_grads))  # BUG: a + a -> one edge
                for child, local in merged.items():
                    child.grad += local * node.grad

    message = failure(SetOfChildren)
    assert message.startswith("your gradient of a in a + a is 1.0; the chain rule gives 2.0")
    assert "kept in a set" in message


def test_a_wrong_local_derivative_names_the_operation_and_the_numbers():
    class WrongTanh(LocalValue):
        def tanh(self):
            t = math.tanh(self.data)
            return WrongTanh(t, (self,), (1 - t,))  # BUG: 1 - t instead of 1 - t**2

    message = failure(WrongTanh)
    expected = 1 - math.tanh(0.5) ** 2
    assert message.startswith(f"your gradient of a in a.tanh() is {round(1 - math.tanh(0.5), 10)}")
    assert f"the chain rule gives {round(expected, 10)}" in message


def test_a_wrong_forward_value_is_named():
    class WrongExp(LocalValue):
        def exp(self):
            return WrongExp(math.exp(self.data) + 1, (self,), (math.exp(self.data),))

    message = failure(WrongExp)
    assert re.match(r"your a\.exp\(\) computes 2\.6487\d*; it should be 1\.6487", message)


def test_a_backward_that_forgets_the_seed_is_named():
    class NoSeed(LocalValue):
        def backward(self):
            for node in reversed(iterative_toposort(self, lambda node: node.children)):
                for child, local in zip(node.children, node.local_grads):
                    child.grad += local * node.grad

    assert "self.grad = 1.0" in failure(NoSeed)


def test_not_a_class_is_a_type_error():
    with pytest.raises(TypeError, match="takes your Value class, got LocalValue"):
        check_engine(LocalValue(1.0))


def test_an_error_in_the_learners_code_names_the_expression_and_keeps_the_cause():
    class BrokenExp(LocalValue):
        def exp(self):
            return BrokenExp(math.exp(self.data), (self,), (undefined_name,))  # noqa: F821

    with pytest.raises(EngineCheckError, match=r"^a\.exp\(\) fails: NameError") as info:
        check_engine(BrokenExp)
    assert isinstance(info.value.__cause__, NameError)

    class BrokenBackward(LocalValue):
        def backward(self):
            raise ValueError("not written yet")

    with pytest.raises(EngineCheckError, match=r"^your backward\(\) fails on a \+ b: ValueError"):
        check_engine(BrokenBackward)
