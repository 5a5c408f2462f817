"""What a ``CompiledFunction`` says and does about its compile tiers: its fused regions, the
tier each runs on, waiting for the best one, pinning one, and the whole-step decision
(``staticgraph.wholestep``); ``staticgraph.compile`` holds the function itself."""

from __future__ import annotations

import time

from .control.kernels import regions as control_regions
from .fusion import FusedKernel


class TierSupport:
    """Mixed into ``CompiledFunction`` (``program``, ``ctx``, ``_report`` are its)."""

    def _whole_step(self, optimize):
        """``(WholeStep or None, why not)``: whole-step mode, as the ``fuse`` pass decided it
        (``staticgraph.wholestep``), confirmed on the fused program."""
        if optimize is False:
            return None, "optimize=False"
        reason = self.ctx.shared.get("whole_step", "the fuse pass did not run")
        ws = None
        if reason is None:
            from .wholestep import WholeStep, why_not

            reason = why_not(self.program)
            if reason is None:
                try:
                    ws = WholeStep(self.program)
                except ValueError as exc:  # a form the generator lacks: the regions' own tiers run
                    reason = str(exc)
            if ws is None:  # fuse held the regions' builds back for the step: ask for them now
                for k in self.regions():
                    k.start()
        if ws is not None:
            ws.start()
            self._report.append(f"whole step: every instruction in one compiled function "
                                f"({ws.build_seconds['numpy'] * 1e3:.2f} ms to generate)")
        else:
            self._report.append(f"whole step: not used ({reason})")
        return ws, reason


    def regions(self) -> list:
        """The fused regions (``FusedKernel``) of the program, in program order, then those
        inside control-flow bodies.

        Returns:
            A list of ``FusedKernel`` (empty without the ``fuse`` pass).

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> len(sg.compile((x * 2.0).exp().sum()).regions())
            1
        """
        return [n.payload for n in self.program.nodes if n.op == "fused" and isinstance(n.payload, FusedKernel)] \
            + control_regions(self.program)

    def tiers(self) -> dict:
        """Where each fused region runs now (in whole-step mode, the step's tier: the regions
        run inside it).

        Returns:
            ``{fused node id: tier}``, the tier ``"numpy"`` or ``"numba"``.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> fn = sg.compile((x * 2.0).exp().sum()); fn.use_tier("numpy")
            >>> list(fn.tiers().values())
            ['numpy']
        """
        ws = self.whole_step
        return {n.id: ws.tier if ws is not None else n.payload.tier
                for n in self.program.nodes if n.op == "fused" and isinstance(n.payload, FusedKernel)}

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Wait until every fused region runs on its best tier (numba on NumPy), building
        what nothing else is building; True when all do (False: a build failed or timed out,
        and those regions keep running on the NumPy tier, with the same results). In
        whole-step mode: until the whole step runs as one compiled function.

        Args:
            timeout: seconds to wait at most; ``None``: as long as it takes.

        Returns:
            True when every region runs on its best tier.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> sg.compile(x + 1.0, optimize=False).wait_compiled(timeout=1.0)
            True
        """
        if self.whole_step is not None:  # the regions run inside the step
            return self.whole_step.wait(timeout)
        deadline = None if timeout is None else time.perf_counter() + timeout
        ok = True
        for k in self.regions():
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            ok = k.wait(left) and ok
        return ok

    def use_tier(self, tier: str) -> None:
        """Run every fused region on ``tier`` (tests compare the tiers; results are the same);
        in whole-step mode, the whole step.

        Args:
            tier: ``"numpy"`` or ``"numba"``.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> fn = sg.compile((x * 2.0).exp().sum()); fn.use_tier("numpy")
            >>> float(fn(np.zeros(2, np.float32)))
            2.0
        """
        if self.whole_step is not None:  # the step's NumPy tier runs the regions' NumPy tier
            for k in self.regions():
                k.use_tier("numpy")
            self.whole_step.use_tier(tier)
            return
        for k in self.regions():
            k.use_tier(tier)


__all__ = ["TierSupport"]
