"""Resolvers turn references by natural key (a tax's name, a category's path, a product number, a media
URL, a currency's ISO code) into ids, looking in the catalog and in the records staged in the import."""
