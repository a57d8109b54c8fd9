"""alignjax.alignment"""
