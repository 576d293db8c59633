"""Human review of face matches: no 1:N identification reaches a key under a review policy until
enough people have confirmed it (docs/ACCOUNTABILITY.md, "Human review").

- `clause.ReviewClause`: the policy clause (`review: {reviewers: N, operations, collections}`).
- `cases`: the review cases (probe crop, candidates, who asked and why, decisions) and their
  lifecycle: open -> confirmed (N distinct reviewers) | rejected (one rejection) | expired.
- `withhold`: what the governed call does to a match-revealing answer under the clause.
- `crops`: the small face crops reviewers judge (the probe, and each indexed face's reference).
"""
