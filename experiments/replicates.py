"""A configuration's repetitions over seeds of its initial weights and batch order (a
study's `--seeds`), read from results files: each run's value, their mean and spread.

The papers ran one seed per configuration. Here a comparison of two configurations says
its difference of means and whether it exceeds the seed spread: `separated` where every
run of one lies above every run of the other (with three seeds a side, a chance of 1 in
20 for two configurations that do not differ), else the difference is within the spread.
"""

import math
from dataclasses import dataclass

import numpy as np


def replicates(config, seeds):
    """The runs of `config` over `seeds`, in that order (seed 0: the configuration itself)."""
    return [config.with_init_seed(seed) if seed else config for seed in seeds]


@dataclass(frozen=True)
class Spread:
    """A quantity over the seeds of one configuration: `values[i]` for `seeds[i]`, nan
    where that run has no results."""

    seeds: tuple
    values: tuple

    @property
    def found(self):
        return np.asarray([v for v in self.values if not math.isnan(v)])

    @property
    def count(self):
        return len(self.found)

    @property
    def mean(self):
        return float(np.mean(self.found)) if self.count else math.nan

    @property
    def std(self):
        """The sample standard deviation (n - 1); nan for fewer than two runs."""
        return float(np.std(self.found, ddof=1)) if self.count > 1 else math.nan

    def describe(self, form=".2f"):
        """'38.42 +- 0.85 (37.60, 38.42, 39.30)': mean, standard deviation, each run."""
        runs = ", ".join("-" if math.isnan(v) else format(v, form) for v in self.values)
        if self.count < 2:
            return f"{format(self.mean, form)} ({runs})" if self.count else f"not run ({runs})"
        return f"{format(self.mean, form)} +- {format(self.std, form)} ({runs})"


def spread(results, config, seeds, quantity=lambda result: 100.0 * result.test_accuracy):
    """`quantity` of each run of `config` over `seeds` (`results`: a `results.Results`)."""
    values = []
    for run in replicates(config, seeds):
        result = results.get(run)
        values.append(math.nan if result is None else float(quantity(result)))
    return Spread(tuple(seeds), tuple(values))


@dataclass(frozen=True)
class Comparison:
    """`a` against `b`: the difference of their means, and whether every run of one lies
    above every run of the other (`separated`)."""

    a: Spread
    b: Spread

    @property
    def difference(self):
        return self.a.mean - self.b.mean

    @property
    def separated(self):
        a, b = self.a.found, self.b.found
        if len(a) < 2 or len(b) < 2:
            return False
        return bool(a.min() > b.max() or b.min() > a.max())

    def describe(self):
        if min(self.a.count, self.b.count) < 2:
            return (f"{self.difference:+.2f} points (no seed spread yet: {self.a.count} and {self.b.count} runs)")
        verdict = "exceeds the seed spread" if self.separated else "within the seed spread"
        return f"{self.difference:+.2f} points ({verdict}; {self.a.count} and {self.b.count} runs)"
