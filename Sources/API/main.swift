print("API")
