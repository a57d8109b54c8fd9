"""alignjax.weights"""
