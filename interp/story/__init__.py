"""The story's characters: the articles' unit catalogue, the roles found in these weights, the WordNet grouping
of the classes and the one purity measure."""
