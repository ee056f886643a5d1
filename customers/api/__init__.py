"""The REST API of the customers app: serializers, view sets and bulk imports."""
