"""Private helpers of :mod:`gauss_flows.information`: 1-D entropy, Gaussian part, RBIG remainder."""
