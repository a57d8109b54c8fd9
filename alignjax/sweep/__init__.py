"""alignjax.sweep"""
