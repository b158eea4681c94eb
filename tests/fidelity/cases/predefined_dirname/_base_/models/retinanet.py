_base_ = '../paths.py'
model_dir = '{{ fileDirname }}'
