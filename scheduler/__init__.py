"""Time: what falls due (reviews, anniversaries, instalments, term), the nightly job that records
it, and the long-running process that runs it once per deployment."""
