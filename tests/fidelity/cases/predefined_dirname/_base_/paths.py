paths_dir = '{{fileDirname}}'
