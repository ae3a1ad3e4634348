print("Transformer")
