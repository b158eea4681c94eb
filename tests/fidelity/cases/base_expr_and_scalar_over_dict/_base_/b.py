max_epochs = 12
