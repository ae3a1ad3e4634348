print("Saver")
