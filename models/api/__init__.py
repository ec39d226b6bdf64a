"""Client systems that file and read complaints through the Open311 GeoReport v2 API."""
