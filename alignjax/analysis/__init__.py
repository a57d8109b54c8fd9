"""alignjax.analysis"""
