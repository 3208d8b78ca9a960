"""Import paths kept for code written against the tutorial series' private layout.

Nothing in the package imports from here: each module re-exports a public class under
the path the series uses. New code imports from :mod:`gauss_flows` or
:mod:`gauss_flows.bijections`.
"""
