"""Views of a plan: terminal summary, report.md and the self-contained report.html."""
