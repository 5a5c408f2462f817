"""``no_grad`` / ``enable_grad`` / ``set_grad_enabled``: thread-local, context managers and decorators."""

from __future__ import annotations

import functools
import threading


class _Mode(threading.local):
    def __init__(self):
        self.enabled = True  # every new thread starts with grad mode on, as in PyTorch
        self.inference = False  # inside dg.inference_mode()


MODE = _Mode()


def is_grad_enabled() -> bool:
    """Whether ops on tensors that require grad are recorded now (this thread).

    Returns:
        ``False`` inside ``dg.no_grad()`` or ``dg.inference_mode()``, else ``True``.

    Examples:
        >>> dg.is_grad_enabled()
        True
        >>> with dg.no_grad():
        ...     dg.is_grad_enabled()
        False
    """
    return MODE.enabled


class _GradMode:
    """Base: sets grad mode on entry, restores it on exit; also usable as a decorator."""

    _value = True

    def __enter__(self):
        self._prev = MODE.enabled
        MODE.enabled = self._value
        return self

    def __exit__(self, *exc):
        MODE.enabled = self._prev
        return False

    def __call__(self, fn):
        value = self._value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = MODE.enabled
            MODE.enabled = value
            try:
                return fn(*args, **kwargs)
            finally:
                MODE.enabled = prev

        return wrapper


class no_grad(_GradMode):
    """Nothing is recorded inside: results do not require grad. ``with dg.no_grad():`` or ``@dg.no_grad()``.

    The mode for evaluation and for updating weights by hand; ``dg.enable_grad()`` turns
    recording back on inside it.

    Examples:
        >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> with dg.no_grad():
        ...     doubled = w * 2
        >>> doubled.requires_grad
        False
    """

    _value = False


class enable_grad(_GradMode):
    """Recording on again inside a ``no_grad`` block (or as a decorator).

    Examples:
        >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> with dg.no_grad():
        ...     with dg.enable_grad():
        ...         doubled = w * 2
        >>> doubled.requires_grad
        True
    """

    _value = True


class inference_mode:
    """``no_grad`` whose results are *inference tensors* (``is_inference()``): they can never
    be saved for backward, nor changed in place outside inference mode (PyTorch's rules), so
    nothing needs their version counters. ``with dg.inference_mode():`` or ``@dg.inference_mode()``.

    Parameters:
        mode: ``False`` makes the block an ordinary one (for code that chooses at run time).

    Examples:
        >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> with dg.inference_mode():
        ...     y = w * 2
        >>> y.requires_grad, y.is_inference()
        (False, True)
    """

    def __init__(self, mode: bool = True):
        self._mode = bool(mode)

    def __enter__(self):
        self._prev = (MODE.enabled, MODE.inference)
        if self._mode:
            MODE.enabled, MODE.inference = False, True
        return self

    def __exit__(self, *exc):
        MODE.enabled, MODE.inference = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(self._mode):
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside ``dg.inference_mode()``.

    Returns:
        ``True`` inside an (enabled) ``dg.inference_mode()`` block.

    Examples:
        >>> with dg.inference_mode():
        ...     dg.is_inference_mode_enabled()
        True
        >>> dg.is_inference_mode_enabled()
        False
    """
    return MODE.inference


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` sets the mode now (as a call) and as a context manager.

    Parameters:
        mode: ``True`` to record ops, ``False`` not to.

    Examples:
        >>> w = dg.tensor([1.0], requires_grad=True)
        >>> with dg.set_grad_enabled(False):
        ...     (w * 2).requires_grad
        False
        >>> (w * 2).requires_grad
        True
    """

    def __init__(self, mode: bool):
        self._prev = MODE.enabled
        self._value = bool(mode)
        MODE.enabled = self._value

    def __enter__(self):
        return self
