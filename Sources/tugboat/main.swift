print("tugboat")
