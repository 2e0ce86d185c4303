"""The names a request asks for, read from plain prose; and never from ordinary English."""

from __future__ import annotations

import pytest

from jupyter_autocoder.agent.requested import expected_results

PHRASINGS = [
    # (request, the names it asks for)
    ("Compute total amount per calendar month into a Series monthly indexed by month", ["monthly"]),
    ("Fit a logistic regression and store the test accuracy as a float in acc", ["acc"]),
    ("Keep the latest event of each user, into a DataFrame latest sorted by user.", ["latest"]),
    ("Keep the latest event of each user in a DataFrame latest sorted by user", ["latest"]),
    ("Put the distinct names, sorted, in the list keep.", ["keep"]),
    ("Return the list keep.", ["keep"]),
    ("Store in best_feature the name of the most correlated feature.", ["best_feature"]),
    ("Put each store's share into a Series share indexed by store, largest first.", ["share"]),
    ("Melt it into a long DataFrame long with the columns student and score", ["long"]),
    ("Make the confusion matrix as a DataFrame cm with the true labels as rows", ["cm"]),
    ("Put the five most important features in the list top_features.", ["top_features"]),
    (
        "Join them into a DataFrame joined; then put the total per country in a Series "
        "by_country, largest first",
        ["joined", "by_country"],
    ),
    ("Keep the matplotlib figure in fig.", ["fig"]),
    ("Store the test ROC AUC as a float in auc and the names in the list top5.", ["auc", "top5"]),
    ("Save the mean price in mean_price.", ["mean_price"]),
    ("Count the rows per group in a Series counts indexed by group", ["counts"]),
    ("Put the cleaned table into a new DataFrame df_clean.", ["df_clean"]),
    ("Assign the fitted scaler to a variable scaler_x.", ["scaler_x"]),
    ("Collect the outliers in a list outliers, in the order they appear.", ["outliers"]),
    ("Build a dict lookup_by_id keyed by id.", ["lookup_by_id"]),
    ("Return the number of rows as an int in n_rows", ["n_rows"]),
    ("Turn it into a numpy array X_train.", ["X_train"]),
    ("Make a DataFrame summary indexed by department with columns n and mean", ["summary"]),
    ("Put the per-day totals into a Series daily; days without sales stay as NaN.", ["daily"]),
    # The forms that were read before: backticks, called/named, a function's signature.
    (
        "Write a function called clean_prices and store the result in `tidy`.",
        ["clean_prices", "tidy"],
    ),
    ("Write a function fib(n) that returns the nth Fibonacci number", ["fib"]),
    ("Load it into the dataframe `sales` and plot it", ["sales"]),
]


@pytest.mark.parametrize(("request_text", "names"), PHRASINGS)
def test_names_in_plain_prose(request_text, names):
    assert expected_results(request_text).names == names


ORDINARY_ENGLISH = [
    "Use a list comprehension to filter the rows.",
    "Store the result in memory and sort it in place.",
    "Report the model accuracy.",
    "Put the values in bins of width 5.",
    "Return the answer in English.",
    "Convert the column to a float first.",
    "Load the iris dataset into a pandas DataFrame.",
    "Read the data into a DataFrame and show its head.",
    "Return a dict mapping names to ages.",
    "Print the list sorted by length.",
    "Give the answer as a string, not a number.",
    "Make a dictionary of counts per word.",
    "Group the data by month and plot a line chart.",
    "Fit the model in a pipeline with scaling.",
    "Save the table as a CSV file.",
    "Draw a figure with two panels side by side.",
    "Use a set for fast lookups.",
    "Put the values in order.",
    "Write the results to a list of tuples.",
    "Return a tuple of two floats.",
    "Show the growth in percent.",
    "Convert it into a DataFrame with one row per user.",
    "Turn the array into a list.",
    "Store the result in a variable.",
    "Return an integer between 1 and 10.",
    "Plot the Series as a bar chart in red.",
    "Keep only the rows in 2023 where the price is known.",
    "Keep the index in mind when you merge.",
    "Add a column ma7 with the 7-day rolling mean of close.",
    "Put each patient's age group into a new column age_group of patients.",
    "Sort the DataFrame by date, then reset the index.",
    "The function returns a list instead of a generator.",
    "Check the array shape and the list length.",
    "Show the first rows of the table and the DataFrame dtypes.",
    "Explain what a Series is and how it differs from a list.",
    "Store them in batches and write each batch in turn.",
    "Fill the missing values with the mean of the column.",
    "Draw a histogram of the value column with 20 bins and save it as hist.png.",
    "Replace 'n/a' in the column 'price' with NaN, then keep the rows in 'sales'.",
]


@pytest.mark.parametrize("request_text", ORDINARY_ENGLISH)
def test_no_names_from_ordinary_english(request_text):
    assert expected_results(request_text).names == []


def test_files_still_come_with_the_names():
    found = expected_results("Plot it, save it to revenue.png and keep the figure in fig.")
    assert found.names == ["fig"] and found.files == ["revenue.png"]
    # A file's stem is not a variable.
    assert expected_results("Save the figure in hist.png").names == []
