"""Re-export modules under the tutorial series' private import paths (see ``gauss_flows._src``)."""
