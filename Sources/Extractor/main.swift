print("Extractor")
