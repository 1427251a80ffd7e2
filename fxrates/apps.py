from django.apps import AppConfig


class FxratesConfig(AppConfig):
    name = "fxrates"
