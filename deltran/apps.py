from django.apps import AppConfig


class DeltranConfig(AppConfig):
    name = "deltran"
    verbose_name = "DelTran platform"
